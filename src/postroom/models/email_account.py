from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.models.base import Base, IdMixin, TimestampsMixin


class EmailAccount(IdMixin, TimestampsMixin, Base):
    """A user's SMTP sending account (Close's ``custom_email`` connected account).

    The password is stored encrypted (``password_sealed``), never in clear.
    """

    __tablename__ = "email_accounts"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    smtp_host: Mapped[str] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(Integer)
    smtp_username: Mapped[str | None] = mapped_column(String(320))
    password_sealed: Mapped[str | None] = mapped_column(Text)
    smtp_security: Mapped[str] = mapped_column(String(16), default="none")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    send_status: Mapped[str] = mapped_column(String(32), default="ok")
    latest_send_error: Mapped[str | None] = mapped_column(Text)
