"""Email channel: inbound over SMTP (aiosmtpd) or IMAP (aioimaplib), threading into cases,
auto-acknowledgement with loop protection, and agents' replies through an SMTP relay.

Sans-I/O parts (``parsing``, ``html_text``, ``threading``, ``autoreply``, ``templates``,
``compose``, ``delivery``) are pure; ``listener``, ``imap_poller`` and ``outbound`` are the
adapters; ``service`` glues them to the rest of ccserver through the ``EmailSink`` Protocol.

Wiring (``app.py``), with background tasks owned by aiohttp ``cleanup_ctx``::

    settings = load_email_settings()                     # config/email.toml
    mailer = OutboundMailer(settings.outbound)           # aiosmtplib relay + retry queue
    service = EmailChannelService(settings, crm_email_sink, mailer)
    listener = SmtpListener(service, settings.listener)
    await mailer.start(); await listener.start()
    for pending in await crm_email_sink.pending_deliveries():   # after a restart
        await mailer.restore(pending)
    if settings.imap.enabled:
        poller = ImapPoller(AioImapMailbox(settings.imap), service, settings.imap)
        await poller.start()
    ...
    await service.send_reply(case, to=..., body=..., agent_id=..., parent=...)  # console
    # shutdown: await poller.aclose(); await listener.aclose(); await mailer.aclose()
"""
