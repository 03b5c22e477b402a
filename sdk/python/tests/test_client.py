"""The client against a local HTTP server that answers like the node: errors, send, events.
(The end-to-end run against a real devnet is examples/submit_job.py, run by the devnet test.)"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vcity_sdk import ApiError, Client, Key, tx_hash


@pytest.fixture
def server():
    routes = {}
    submitted = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            status, content_type, body = routes[self.path]
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.end_headers()
            for part in body if isinstance(body, list) else [body]:
                self.wfile.write(part.encode())
                self.wfile.flush()

        def do_POST(self):
            data = self.rfile.read(int(self.headers["content-length"]))
            tx = bytes.fromhex(json.loads(data)["tx"])
            submitted.append(tx)
            body = json.dumps({"tx_hash": tx_hash(tx)}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes, submitted
    httpd.shutdown()


def test_an_api_error_arrives_with_its_stable_code(server):
    base, routes, _ = server
    routes["/v1/jobs/9"] = (404, "application/json", json.dumps({"code": 0, "error": "not_found", "message": "no job 9"}))
    with pytest.raises(ApiError) as raised:
        Client(base).job(9)
    assert raised.value.status == 404 and raised.value.error == "not_found"


def test_send_signs_with_the_chain_id_and_pending_nonce(server):
    base, routes, submitted = server
    key = Key("07" * 32)
    routes["/v1/status"] = (200, "application/json", json.dumps({"chain_id": "vcity-test", "min_fee_usd": "1000"}))
    routes[f"/v1/accounts/{key.account}"] = (200, "application/json", json.dumps({"pending_nonce": 4}))
    answer = Client(base).send(key, [{"type": "claim_rewards"}])
    assert answer == tx_hash(submitted[0])
    nonce_at = 4 + len("vcity-test") + 32
    assert int.from_bytes(submitted[0][nonce_at : nonce_at + 8], "little") == 4


def test_the_event_stream_yields_parsed_items(server):
    base, routes, _ = server
    routes["/v1/events?from_height=3"] = (
        200,
        "text/event-stream",
        [': keep-alive\n\nevent: event\ndata: {"height":3}\n\n', 'event: block\r\nid: 3\r\ndata: {"height":3,"tx_count":1}\r\n\r\n'],
    )
    items = list(Client(base).events(from_height=3))
    assert items == [("event", None, {"height": 3}), ("block", "3", {"height": 3, "tx_count": 1})]
