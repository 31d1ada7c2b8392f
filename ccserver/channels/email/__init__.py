"""Email channel: inbound over SMTP (aiosmtpd) or IMAP (aioimaplib), threading into cases,
auto-acknowledgement with loop protection, and agents' replies through an SMTP relay.

Sans-I/O parts (``parsing``, ``html_text``, ``threading``, ``autoreply``, ``templates``,
``compose``, ``delivery``) are pure; ``listener``, ``imap_poller`` and ``outbound`` are the
adapters; ``service`` glues them to the rest of ccserver through the ``EmailSink`` Protocol.
"""
