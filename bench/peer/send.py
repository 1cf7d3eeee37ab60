"""The delivery benchmark's peer: queue N emails in django-post_office, then send them.

Run with bench/.peer-venv/bin/python (bench/peer/setup.sh makes it). It creates the schema
(``migrate``), queues the emails with ``mail.send_many`` (post_office's bulk API: one
``bulk_create``), prints ``queued ...``, then runs the documented ``send_queued_mail`` command
(``send_queued_mail_until_done``: batches of ``BATCH_SIZE``, ``--processes`` processes of
``THREADS_PER_PROCESS`` threads each, Django's SMTP backend) and prints ``sent ...`` with the
status counts. The benchmark times the delivery at its SMTP sink, not here.

    python send.py --database sqlite:////tmp/x/peer.db --smtp-port 2525 --emails 10000 \
        --text body.txt --html body.html --processes 2 --threads 10 --batch-size 1000 \
        --log-level 0
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUEUE_CHUNK = 1000
"""Emails per ``send_many`` call (one ``bulk_create`` each)."""


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - read by bench/delivery.py


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", required=True, help="sqlite:////path or postgresql://...")
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--emails", type=int, required=True)
    parser.add_argument("--text", type=Path, required=True, help="file with the text body")
    parser.add_argument("--html", type=Path, required=True, help="file with the HTML body")
    parser.add_argument("--sender", default="bench@sender.example.com")
    parser.add_argument("--subject", default="Delivery benchmark")
    parser.add_argument("--processes", type=int, default=1, help="send_queued_mail -p")
    parser.add_argument("--threads", type=int, default=5, help="THREADS_PER_PROCESS")
    parser.add_argument("--batch-size", type=int, default=100, help="BATCH_SIZE")
    parser.add_argument("--log-level", type=int, default=2, help="LOG_LEVEL")
    parser.add_argument("--lockfile", type=Path, required=True, help="send_queued_mail -L")
    return parser.parse_args(argv)


def configure(arguments: argparse.Namespace) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "settings",
            "PEER_DATABASE_URL": arguments.database,
            "PEER_SMTP_PORT": str(arguments.smtp_port),
            "PEER_THREADS": str(arguments.threads),
            "PEER_BATCH_SIZE": str(arguments.batch_size),
            "PEER_LOG_LEVEL": str(arguments.log_level),
        }
    )
    sys.path.insert(0, str(HERE))
    import django

    django.setup()


def email_fields(common: dict[str, Any], number: int) -> dict[str, Any]:
    return {**common, "recipients": [f"r{number}@buyer.example.com"]}


def queue(arguments: argparse.Namespace) -> None:
    from post_office import mail

    common = {
        "sender": arguments.sender,
        "subject": arguments.subject,
        "message": arguments.text.read_text(),
        "html_message": arguments.html.read_text(),
    }
    for start in range(0, arguments.emails, QUEUE_CHUNK):
        numbers = range(start, min(start + QUEUE_CHUNK, arguments.emails))
        mail.send_many([email_fields(common, number) for number in numbers])


def status_counts() -> str:
    from django.db.models import Count
    from post_office.models import STATUS, Email

    names = dict(enumerate(STATUS._fields))
    counts = Email.objects.values("status").annotate(n=Count("id")).order_by("status")
    return " ".join(f"{names.get(row['status'], row['status'])}={row['n']}" for row in counts)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    configure(arguments)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    queue(arguments)
    say(f"queued {arguments.emails} seconds={time.monotonic() - started:.3f}")
    started = time.monotonic()
    call_command(
        "send_queued_mail", processes=arguments.processes, lockfile=str(arguments.lockfile)
    )
    say(f"sent seconds={time.monotonic() - started:.3f} {status_counts()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
