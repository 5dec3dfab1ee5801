"""Zendesk's side of a webhook, for tests: signs and POSTs access-log events
(base64(HMAC-SHA256(secret, timestamp + body))), as Zendesk does."""
import base64, datetime, hashlib, hmac, http.client, json, time


def signed(secret, body, when=None):
    ts = (when or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()).decode()
    return {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "Content-Type": "application/json"}


def body_of(events):
    return json.dumps({"account_id": 12514403, "detail": {}, "event": {"access_logs": events},
                       "id": "9d7c1f0e-0000-4000-8000-000000000000", "time": events[0]["timestamp"] if events else "",
                       "type": "zen:event-type:access_log.created", "zendesk_event_version": "2022-11-06",
                       "subject": "zen:access_log:" + (events[0]["id"] if events else "")}).encode()


def post(port, path, body, headers, method="POST"):
    """(status, Retry-After or None, seconds)"""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader("Retry-After"), time.monotonic() - t0


def event(i, ts):
    ulid = "01J5M2QGXR" + format(i, "016d")
    return {"id": ulid, "timestamp": ts, "user_id": str(6596848315901 + i % 7), "ip_address": "192.168.1.100",
            "method": "GET", "url": f"/api/v2/tickets/{1000 + i}.json", "status": 200, "authorization_type": "bearer",
            "client": "Zendesk/1.0", "graphql": None, "referer": "https://example.zendesk.com/agent/dashboard",
            "bytes_sent": 4096, "category": "Tickets", "summary": "Show ticket", "origin_service": "Zendesk"}
