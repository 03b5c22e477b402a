"""The SDK against sdk/vectors/golden.json, which a Rust test writes from vcity-types."""

import json
import pathlib

import pytest

from vcity_sdk import (
    EncodingError,
    Key,
    commitment_hash,
    content_address,
    encode,
    owner_request_digest,
    sign_bytes,
    sign_transaction,
    verify,
)

GOLDEN = json.loads((pathlib.Path(__file__).resolve().parents[2] / "vectors" / "golden.json").read_text())


def test_seeds_give_the_accounts_and_dids_of_the_rust_types():
    for vector in GOLDEN["keys"]:
        key = Key(vector["seed"])
        assert key.account == vector["account"]
        assert key.did == vector["did"]


@pytest.mark.parametrize("vector", GOLDEN["transactions"], ids=lambda vector: vector["name"])
def test_every_message_type_encodes_signs_and_hashes_byte_for_byte(vector):
    key = Key(vector["seed"])
    assert sign_bytes(vector["body"]).hex() == vector["sign_bytes"]
    signed = sign_transaction(key, vector["body"])
    assert signed.signature.hex() == vector["signature"]
    assert signed.bytes.hex() == vector["tx"]
    assert signed.hash == vector["hash"]
    assert verify(key.public_key, bytes.fromhex(vector["sign_bytes"]), signed.signature)


def test_every_message_type_has_a_vector():
    names = {vector["body"]["messages"][0]["type"] for vector in GOLDEN["transactions"]}
    schema_names = {variant[0] for variant in __import__("vcity_sdk").SCHEMA["types"]["Message"]["variants"]}
    assert names == schema_names


def test_content_addresses_commitments_and_owner_requests_match():
    for vector in GOLDEN["content_addresses"]:
        assert content_address(bytes.fromhex(vector["bytes"])) == vector["address"]
    for vector in GOLDEN["result_commitments"]:
        assert commitment_hash(vector["commitment"]) == vector["hash"]
    for vector in GOLDEN["owner_requests"]:
        digest = owner_request_digest(vector["method"], vector["path"], vector["time_ms"])
        assert digest == vector["digest"]
        assert Key(vector["seed"]).sign(bytes.fromhex(digest)).hex() == vector["signature"]


def test_a_did_names_the_same_account_as_its_hex():
    first = GOLDEN["keys"][0]

    def transfer(to):
        return encode("Message", {"type": "transfer", "to": to, "denom": "usd", "amount": "1"})

    assert transfer(first["did"]) == transfer(first["account"])


TRANSFER = {"type": "transfer", "to": GOLDEN["keys"][0]["account"], "denom": "usd", "amount": "1"}


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"amount": "-1"}, r"^amount: "),
        ({"amount": str(1 << 128)}, r"out of range for amount"),
        ({"amount": True}, r"expected an integer"),
        ({"denom": "eur"}, r"^denom: expected one of vcai, usd"),
        ({"to": "abcd"}, r"^to: expected 64 hex digits"),
        ({"memo": "x"}, r'unknown field "memo"'),
        ({"type": "teleport"}, r'"type" must be one of transfer, mint_usd'),
    ],
)
def test_bad_values_are_refused_with_the_path_to_the_field(change, pattern):
    with pytest.raises(EncodingError, match=pattern):
        encode("Message", {**TRANSFER, **change})


def test_a_missing_field_is_named():
    with pytest.raises(EncodingError, match='missing field "to"'):
        encode("Message", {"type": "transfer", "denom": "usd", "amount": "1"})


def test_fields_the_rust_types_default_may_be_left_out():
    job = {
        "type": "submit_job",
        "workload": {"module_hash": "33" * 32, "input": []},
        "tasks": 1,
        "requirements": {"gpu_model": None, "gpu_count": 0, "min_vram_mib": 0, "region": None, "max_duration_s": 60},
        "max_cu_ppm_per_task": 1_000_000,
        "max_price_per_cu_usd": "1",
        "billing": {"model": "pay_as_you_go"},
    }
    full = {
        **job,
        "workload": {**job["workload"], "executor": {"kind": "wasm"}, "shards": [], "service": None, "output_dir": False},
        "requirements": {**job["requirements"], "node_kind": None, "gang": False, "high_load": False, "sandbox": None},
        "verification": "standard",
        "retries": None,
    }
    assert encode("Message", job) == encode("Message", full)


def test_a_transaction_for_another_sender_is_refused():
    first, second = GOLDEN["keys"][:2]
    with pytest.raises(ValueError, match="is not the sender"):
        sign_transaction(Key(first["seed"]), {"chain_id": "x", "sender": second["account"], "nonce": 0, "fee": "0", "messages": []})


def test_a_key_file_must_match_its_account(tmp_path):
    first, second = GOLDEN["keys"][:2]
    path = tmp_path / "alice.json"
    path.write_text(json.dumps({"name": "alice", "account": first["account"], "did": first["did"], "secret_key": first["seed"]}))
    assert Key.from_file(path).account == first["account"]
    path.write_text(json.dumps({"name": "alice", "account": second["account"], "did": "", "secret_key": first["seed"]}))
    with pytest.raises(ValueError, match="does not match"):
        Key.from_file(path)
