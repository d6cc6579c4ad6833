"""Client of katka's HTTP admin API, found from --bootstrap-server alone.

The broker reports the API's address as the read-only broker config `katka.admin.listener`
(DescribeConfigs on the broker resource), so a user types one address. A Kafka broker has no
such config: katka-only views then say that they need a katka broker (or --admin-url).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from katka.cli.common import CliError, Connection, echo_err, kafka_admin_module, wait

ADMIN_LISTENER_CONFIG = "katka.admin.listener"


class AdminApiUnavailable(CliError):
    """The katka-only view cannot be shown (not katka, or its admin API is off)."""


class AdminApi:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.unreachable: str | None = None  # why get_extra() gave up, once it has

    def get_extra(self, path: str) -> Any:
        """For views that work without the API (sizes, generation, lag in time): None when it
        cannot be reached, saying so once on stderr, so the command shows what the Kafka
        protocol gives instead of failing."""
        if self.unreachable is not None:
            return None
        try:
            return self.get(path)
        except CliError as error:
            self.unreachable = error.format_message()
            echo_err(f"katka: warning: {self.unreachable}; showing what the Kafka protocol gives")
            return None

    def get(self, path: str) -> Any:
        """GET a JSON document; None on 404 (unknown group or topic)."""
        url = self.base_url + path
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise CliError(f"admin API {url}: HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CliError(f"cannot reach katka's admin API at {url}: {reason}") from None
        except ValueError:
            raise CliError(f"admin API {url}: the answer is not JSON") from None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body (an action, e.g. a live offset reset); CliError with the API's
        message when it refuses."""
        url = self.base_url + path
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read())["message"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {error.code} {error.reason}"
            raise CliError(message) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CliError(f"cannot reach katka's admin API at {url}: {reason}") from None
        except ValueError:
            raise CliError(f"admin API {url}: the answer is not JSON") from None


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def discover_admin_url(connection: Connection, admin: Any | None = None) -> str | None:
    """The admin API base URL from `katka.admin.listener`; None when the broker is not katka
    or does not run the API. --admin-url wins."""
    if connection.admin_url:
        url = connection.admin_url
        return url if "://" in url else f"http://{url}"
    admin = admin or connection.admin()
    metadata = admin.list_topics(timeout=connection.timeout_s)
    broker_ids = sorted(metadata.brokers)
    if not broker_ids:
        return None
    names = kafka_admin_module()
    resource = names.ConfigResource(names.ResourceType.BROKER, str(broker_ids[0]))
    futures = admin.describe_configs([resource], request_timeout=connection.timeout_s)
    entries = wait(futures[resource], connection.timeout_s, "describe broker configs")
    entry = entries.get(ADMIN_LISTENER_CONFIG)
    if entry is None or not entry.value:
        return None
    host, _, port = str(entry.value).rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        # Bound to every interface: reach it the way we reached the broker.
        host = connection.bootstrap_servers.split(",")[0].rpartition(":")[0] or "127.0.0.1"
        host = host.split("://")[-1]
    return f"http://{host}:{port}"


def admin_api(connection: Connection, what: str, admin: Any | None = None) -> AdminApi:
    """The admin API, or AdminApiUnavailable naming the katka-only view `what`."""
    url = discover_admin_url(connection, admin)
    if url is None:
        raise AdminApiUnavailable(
            f"{what} is a katka-only view: the broker at {connection.bootstrap_servers} does "
            f"not report a {ADMIN_LISTENER_CONFIG} (not katka, or its admin API is off); "
            "pass --admin-url to point at one"
        )
    return AdminApi(url, connection.timeout_s)


def optional_admin_api(connection: Connection, admin: Any | None = None) -> AdminApi | None:
    """The admin API when there is one, for extras (sizes, generation, lag in time)."""
    try:
        url = discover_admin_url(connection, admin)
    except CliError:
        return None
    return None if url is None else AdminApi(url, connection.timeout_s)
