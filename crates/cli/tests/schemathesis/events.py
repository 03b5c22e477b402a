"""Checks every item of a node's event stream, from block 1 to the current height, against the
OpenAPI document's EventView and BlockSummaryView schemas (jsonschema_rs comes with
schemathesis). Schemathesis cannot test a stream that never ends; this reads it to a height.

    python3 events.py OPENAPI_JSON API_URL        prints "checked N items of K event types"
"""

import json
import sys
import urllib.request

import jsonschema_rs


def validator(components, name):
    text = json.dumps({"$ref": f"#/definitions/{name}", "definitions": components})
    return jsonschema_rs.validator_for(json.loads(text.replace("#/components/schemas/", "#/definitions/")))


def main():
    document, api = sys.argv[1], sys.argv[2].rstrip("/")
    with open(document, encoding="utf-8") as handle:
        components = json.load(handle)["components"]["schemas"]
    validators = {"event": validator(components, "EventView"), "block": validator(components, "BlockSummaryView")}
    top = json.load(urllib.request.urlopen(f"{api}/v1/status", timeout=10))["height"]
    stream = urllib.request.urlopen(f"{api}/v1/events?from_height=1", timeout=30)
    kind, items, types, failures = None, 0, set(), []
    for raw in stream:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("event:"):
            kind = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data = json.loads(line[len("data:") :].strip())
            items += 1
            if kind == "event":
                types.add(data["event"]["type"])
            for error in validators[kind].iter_errors(data):
                failures.append(f"{kind} {json.dumps(data)[:300]}: {error}")
            if kind == "block" and data["height"] >= top:
                break
    if failures:
        sys.exit("\n".join(failures[:20]))
    print(f"checked {items} items of {len(types)} event types")


if __name__ == "__main__":
    main()
