"""A typed client of the node's HTTP API (docs/api.md; the contract is /v1/openapi.json), on the
standard library's urllib. Every method maps to one documented route; errors are the API's JSON
error body as an ``ApiError``."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from .tx import commitment_hash, content_address, owner_request_digest, sign_transaction


class ApiError(Exception):
    """The node's error body (``code``, ``error``, ``message``) with the HTTP status."""

    def __init__(self, status, body, url):
        body = body or {}
        self.status = status
        self.code = body.get("code", 0)
        self.error = body.get("error", "http_error")
        self.detail = body.get("message", "")
        self.receipt = None
        super().__init__(f"{url}: {status} {self.error}: {self.detail}")


class InvalidOutputError(Exception):
    """A fetched output failed its commitment: the node served something else."""


def _quote(value):
    return urllib.parse.quote(str(value), safe="")


class Client:
    def __init__(self, base="http://127.0.0.1:8710", timeout_s=30.0):
        self.base = base.rstrip("/")
        self.timeout_s = timeout_s
        self._chain = None

    def _open(self, url, data=None, headers=None, method=None, timeout_s=None):
        request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
        try:
            return urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s)
        except urllib.error.HTTPError as error:
            try:
                body = json.loads(error.read())
            except ValueError:
                body = {"message": error.reason}
            raise ApiError(error.code, body, url) from None

    def get(self, path, **query):
        query = {name: value for name, value in query.items() if value is not None and value != ""}
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        with self._open(url) as response:
            return json.loads(response.read())

    def post(self, path, body):
        data = json.dumps(body).encode()
        with self._open(self.base + path, data, {"content-type": "application/json"}, "POST") as response:
            return json.loads(response.read())

    def status(self):
        return self.get("/v1/status")

    def validators(self):
        return self.get("/v1/validators")

    def health(self):
        return self.get("/v1/health")

    def params(self):
        return self.get("/v1/params")

    def supply(self):
        return self.get("/v1/supply")

    def account(self, account):
        return self.get(f"/v1/accounts/{_quote(account)}")

    def vesting(self, account):
        return self.get(f"/v1/accounts/{_quote(account)}/vesting")

    def rewards(self, account):
        return self.get(f"/v1/accounts/{_quote(account)}/rewards")

    def pool(self):
        return self.get("/v1/pool")

    def treasury(self):
        return self.get("/v1/treasury")

    def incentives(self):
        return self.get("/v1/incentives")

    def attestation(self):
        """The TEE attestation rules and the nonce evidence is bound to (docs/attestation.md)."""
        return self.get("/v1/attestation")

    def nodes(self, **query):
        return self.get("/v1/nodes", **query)

    def node(self, account):
        return self.get(f"/v1/nodes/{_quote(account)}")

    def jobs(self, **query):
        return self.get("/v1/jobs", **query)

    def job(self, job_id):
        return self.get(f"/v1/jobs/{_quote(job_id)}")

    def governance(self):
        return self.get("/v1/governance")

    def proposals(self, **query):
        return self.get("/v1/governance/proposals", **query)

    def proposal(self, proposal):
        return self.get(f"/v1/governance/proposals/{_quote(proposal)}")

    def agents(self, **query):
        return self.get("/v1/agents", **query)

    def agent(self, agent_id):
        return self.get(f"/v1/agents/{_quote(agent_id)}")

    def agent_call(self, job_id):
        return self.get(f"/v1/agent-calls/{_quote(job_id)}")

    def latest_block(self):
        return self.get("/v1/blocks/latest")

    def block(self, height):
        return self.get(f"/v1/blocks/{_quote(height)}")

    def transaction(self, tx_hash):
        return self.get(f"/v1/txs/{_quote(tx_hash)}")

    def put_blob(self, data: bytes):
        """``POST /v1/blobs``: stores bytes, answers {address, bytes}."""
        headers = {"content-type": "application/octet-stream"}
        with self._open(self.base + "/v1/blobs", bytes(data), headers, "POST") as response:
            return json.loads(response.read())

    def blob(self, address):
        """``GET /v1/blobs/{address}``, checked against its content address."""
        with self._open(f"{self.base}/v1/blobs/{_quote(address)}") as response:
            data = response.read()
        if content_address(data) != address:
            raise InvalidOutputError(f"blob {address} does not match its address")
        return data

    def submit(self, data: bytes) -> str:
        """``POST /v1/txs`` with canonical signed bytes; answers the transaction id."""
        return self.post("/v1/txs", {"tx": bytes(data).hex()})["tx_hash"]

    def wait_for_transaction(self, tx_hash, timeout_s=30.0, interval_s=0.15):
        """Polls until the transaction has a receipt."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                view = self.transaction(tx_hash)
                if view.get("receipt"):
                    return view
            except ApiError as error:
                if error.status != 404:
                    raise
            if time.monotonic() >= deadline:
                raise TimeoutError(f"transaction {tx_hash} has no receipt after {timeout_s} s")
            time.sleep(interval_s)

    def send(self, key, messages, fee=None):
        """Signs ``messages`` (their JSON form) with the chain id and the account's next pending
        nonce, submits, and answers the transaction id. ``fee`` defaults to the chain's minimum."""
        if self._chain is None:
            status = self.status()
            self._chain = (status["chain_id"], status["min_fee_usd"])
        chain_id, min_fee = self._chain
        account = self.account(key.account)
        signed = sign_transaction(
            key,
            {
                "chain_id": chain_id,
                "sender": key.account,
                "nonce": account["pending_nonce"],
                "fee": min_fee if fee is None else fee,
                "messages": messages,
            },
        )
        return self.submit(signed.bytes)

    def send_and_wait(self, key, messages, fee=None, timeout_s=30.0):
        """``send``, then the receipt; a refused transaction raises ApiError with its code."""
        tx_hash = self.send(key, messages, fee)
        view = self.wait_for_transaction(tx_hash, timeout_s)
        receipt = view["receipt"]
        if receipt["code"] != 0:
            error = ApiError(200, {"code": receipt["code"], "error": receipt["error"], "message": f"transaction {tx_hash} failed"}, "/v1/txs")
            error.receipt = receipt
            raise error
        return view

    def events(self, from_height=None, timeout_s=None):
        """The committed event stream (``GET /v1/events``) as a generator of
        (event, id, data) tuples: ``event`` is "event" or "block", ``data`` parsed JSON."""
        query = "" if from_height is None else f"?from_height={int(from_height)}"
        headers = {"accept": "text/event-stream"}
        response = self._open(self.base + "/v1/events" + query, headers=headers, timeout_s=timeout_s or 3600)
        with response:
            yield from parse_event_stream(response)

    def task_output(self, key, job_id, task):
        """Task ``task``'s output, fetched from the compute node that ran it with a request signed
        by the job's owner ``key``, and checked: the node's commitment must hash to the ledger's
        ``output_hash`` and the output to the commitment's content address. Answers
        (commitment, output bytes)."""
        tasks = self.job(job_id).get("tasks", [])
        state = tasks[task]["state"] if task < len(tasks) else {}
        if state.get("state") not in ("completed", "settled"):
            raise LookupError(f"task {task} of job {job_id} has no result yet ({state.get('state', 'no such task')})")
        endpoint = self.node(state["node"])["node"]["endpoint"].rstrip("/")
        view = json.loads(self._owner_get(key, endpoint, f"/v1/tasks/{job_id}/{task}/result"))
        if commitment_hash(view["commitment"]) != state["output_hash"]:
            raise InvalidOutputError(f"the node's commitment does not hash to the ledger's {state['output_hash']}")
        output = self._owner_get(key, endpoint, f"/v1/tasks/{job_id}/{task}/output")
        if content_address(output) != view["commitment"]["output"]:
            raise InvalidOutputError("the output does not match the committed content address")
        return view["commitment"], output

    def _owner_get(self, key, endpoint, path):
        time_ms = int(time.time() * 1000)
        signature = key.sign(bytes.fromhex(owner_request_digest("GET", path, time_ms)))
        headers = {
            "x-vcity-account": key.account,
            "x-vcity-time-ms": str(time_ms),
            "x-vcity-signature": signature.hex(),
        }
        with self._open(endpoint + path, headers=headers) as response:
            return response.read()


def parse_event_stream(lines):
    """Parses a text/event-stream (an iterable of byte lines) into (event, id, data) tuples."""
    event, event_id, data = "message", None, []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                text = "\n".join(data)
                try:
                    value = json.loads(text)
                except ValueError:
                    value = text
                yield event, event_id, value
            event, event_id, data = "message", None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
