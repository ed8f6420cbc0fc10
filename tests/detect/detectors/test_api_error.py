from tests.detect.detectors.helpers import detect, evidence, put


def test_errors_and_non_2xx_status(workspace):
    ids = put(
        workspace,
        [
            {"output": "ok", "status_code": 200},
            {"output": None, "status_code": 429, "error": "Rate limit reached"},
            {"output": None, "error": "connection reset"},
            {"output": "odd", "status_code": 503},
        ],
    )
    found = detect(workspace, "api_error")
    assert set(found["record_id"]) == set(ids[1:])
    assert evidence(found, ids[1]) == "HTTP 429: 'Rate limit reached'"
    assert evidence(found, ids[2]) == "'connection reset'"
    assert evidence(found, ids[3]) == "HTTP 503"
    assert set(found["severity"]) == {"low"}
