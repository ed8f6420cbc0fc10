import json

from tests.detect.detectors.helpers import detect, evidence, put

TOOLS = json.dumps(
    [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
)


def _call(name, arguments):
    return [{"id": "c", "name": name, "arguments": arguments}]


def test_bad_json_unknown_tool_and_schema(workspace):
    ids = put(
        workspace,
        [
            {
                "output": None,
                "tool_calls": _call("get_weather", '{"city": "Oslo"}'),
                "tools": TOOLS,
            },
            {"output": None, "tool_calls": _call("get_weather", '{"city": "Oslo"'), "tools": TOOLS},
            {"output": None, "tool_calls": _call("get_wether", '{"city": "Oslo"}'), "tools": TOOLS},
            {"output": None, "tool_calls": _call("get_weather", '{"town": 3}'), "tools": TOOLS},
            {"output": None, "tool_calls": _call("anything", '{"x": 1}')},
            {"output": None, "tool_calls": _call("anything", "{oops")},
        ],
    )
    found = detect(workspace, "tool_call_invalid")
    assert set(found["record_id"]) == {ids[1], ids[2], ids[3], ids[5]}
    assert evidence(found, ids[1]).startswith("get_weather: arguments are not JSON")
    assert evidence(found, ids[2]) == "unknown tool 'get_wether' (logged tools: get_weather)"
    assert evidence(found, ids[3]) == "get_weather: arguments: 'city' is a required property"
