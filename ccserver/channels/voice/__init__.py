"""The voice channel: Asterisk calls as interactions (DESIGN.md §5).

* :func:`.setup.start_voice` ``(settings, cc, services) -> VoiceChannel`` (and the aiohttp
  cleanup context :func:`.setup.voice_context`); ``services.extras["voice"]`` is the channel.
* :class:`.channel.VoiceChannel`: the ``ChannelAdapter`` for ``Channel.VOICE`` plus
  ``dial_out(number, caller_id, timeout) -> DialResult`` (answered / busy / no_answer /
  failed), ``bridge_agent(channel, endpoint)``, ``hangup(channel)``.
* :mod:`.inbound` (IVR + queue over AsyncAGI), :mod:`.control` (hold, transfer, record,
  DTMF, monitor), :mod:`.ivr_driver` (IVR <-> AGI translation, sans-I/O).
"""
