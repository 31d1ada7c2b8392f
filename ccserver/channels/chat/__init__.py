"""Web chat: the embeddable widget, its WebSocket, and chats as routed interactions."""
