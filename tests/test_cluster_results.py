"""What travels to a Dask worker and what is taken back from one (mlkit/grading/cluster.py), checked as data.

The real cluster, forged results from a real worker and another account's attempts are in
tests/test_distributed.py; here, each rule of `portable_config` and `read_result` on its own, fast.
"""

from __future__ import annotations

import pickle
import re

import pytest
from traitlets.config import Config

from mlkit.grading import cluster, parallel

LIMITS = {"linear_regression": {"grades": {"test_fit": 3.0, "test_predict": 2.0}, "comments": {"answer_fit"},
                                "points": 5.0}}
SENT = {"linear_regression.ipynb", "timestamp.txt", "data/train.csv"}


def _result(**changes) -> dict:
    result = {"digest": "d" * 64, "status": parallel.GRADED, "seconds": 2.5, "reason": "",
              "files": {"linear_regression.ipynb": b"{}", "timestamp.txt": b"2026-01-01 00:00:00"},
              "records": {"timestamp": "2026-01-01T00:00:00", "notebooks": {"linear_regression": {
                  "late_submission_penalty": None, "grades": {"test_fit": [3.0, False], "test_predict": [None, True]},
                  "comments": {"answer_fit": "No response."}}}}}
    result.update(changes)
    return result


def _read(result) -> dict:
    return cluster.read_result(cluster.pack(result), "d" * 64, SENT, LIMITS)


def test_an_honest_result_is_read():
    read = _read(_result())
    assert read["status"] == parallel.GRADED and read["files"]["timestamp.txt"].startswith(b"2026")
    notebook = read["records"]["notebooks"]["linear_regression"]
    assert notebook["grades"] == {"test_fit": (3.0, False), "test_predict": (None, True)}
    assert read["records"]["timestamp"].year == 2026


def _with_grade(score) -> dict:
    result = _result()
    result["records"]["notebooks"]["linear_regression"]["grades"]["test_fit"] = [score, False]
    return result


@pytest.mark.parametrize("forged, reason", [
    (_result(digest="e" * 64), "does not answer the submission that was sent"),
    (_with_grade(3.5), "the score of test_fit in linear_regression is 3.5, not a number from 0 to 3"),
    (_with_grade(-1), "not a number from 0 to 3"),
    (_with_grade(float("nan")), "not a number from 0 to 3"),
    (_with_grade("3"), "not a number from 0 to 3"),
    (_result(files={"../../gradebook.db": b""}), "refused a file path outside its folder"),
    (_result(files={"/etc/passwd": b""}), "refused a file path"),
    (_result(files={"linear_regression.ipynb": "text"}), "not a map of paths to bytes"),
    (_result(files={"other.py": b""}), "neither the submission's nor a graded notebook"),
    (_result(status="done"), "has the status"),
])
def test_a_forged_result_is_refused_with_the_reason(forged, reason):
    with pytest.raises(cluster.RefusedResult, match=re.escape(reason)):
        _read(forged)


def test_unknown_notebooks_cells_and_comments_are_refused():
    for where, name in (("notebooks", "another_notebook"), ("grades", "test_hidden_extra"),
                        ("comments", "answer_elsewhere")):
        result = _result()
        notebooks = result["records"]["notebooks"]
        if where == "notebooks":
            notebooks[name] = notebooks["linear_regression"]
        else:
            notebooks["linear_regression"][where][name] = [1.0, False] if where == "grades" else "text"
        with pytest.raises(cluster.RefusedResult):
            _read(result)


def test_only_msgpack_bytes_are_read_never_a_pickle():
    with pytest.raises(cluster.RefusedResult, match="no msgpack document"):
        cluster.read_result(pickle.dumps(_result()), "d" * 64, SENT, LIMITS)
    with pytest.raises(cluster.RefusedResult, match="sent a dict"):
        cluster.read_result(_result(), "d" * 64, SENT, LIMITS)


class RunsCode:
    def __reduce__(self):
        return (print, ("ran",))


def test_while_connected_no_pickle_may_name_a_function():
    payload = pickle.dumps(RunsCode())
    with cluster.refuse_unpickling():
        with pytest.raises(cluster.UnpicklingRefused, match="builtins.print"):
            pickle.loads(payload)
        assert pickle.loads(pickle.dumps({"data": [b"bytes", 1.5, "text"]}))["data"][0] == b"bytes"
    pickle.loads(payload)  # outside, the hook is idle


def test_a_worker_reason_cannot_write_to_the_terminal():
    read = _read(_result(status=parallel.FAILED, reason="\x1b]0;owned\x07fine" + "x" * 5000))
    assert "\x1b" not in read["reason"] and "\x07" not in read["reason"] and len(read["reason"]) <= 600


def test_the_configuration_travels_without_credentials():
    config = Config()
    config.CourseDirectory.course_id = "course"
    config.CourseDirectory.db_url = "postgresql://grader:pw-1@db/gradebook"
    config.CourseDirectory.root = "/home/instructor/course"
    config.ResilientExecute.timeout = 30
    config.Autograde.sanitize_preprocessors = ["nbgrader.preprocessors.ClearOutput"]
    config.MlkitGrade.tls_key_file = "/home/instructor/cluster.key"
    config.HubAuth.api_token = "pw-2"
    config.ExchangeFactory.collect = "mlkit.grading.submission.LinkSafeCollect"
    config.Whatever.service_password = "pw-3"
    config.Whatever.mirror = "https://user:pw-4@example.org/"
    shown = cluster.portable_config(config)
    assert shown == {"CourseDirectory": {"course_id": "course"}, "ResilientExecute": {"timeout": 30},
                     "Autograde": {"sanitize_preprocessors": ["nbgrader.preprocessors.ClearOutput"]}}
    assert b"pw-" not in cluster.pack(shown)
    config.Autograde.exporter_class = Config  # a class object: cannot travel, and says which setting
    with pytest.raises(cluster.ConfigNotPortable, match="c.Autograde.exporter_class"):
        cluster.portable_config(config)


def test_a_plain_scheduler_needs_the_network_said_private(tmp_path):
    with pytest.raises(cluster.InsecureTransport, match="--private-network"):
        cluster.cluster_security("tcp://10.0.0.1:8786", {})
    assert cluster.cluster_security("tcp://10.0.0.1:8786", {}, private_network=True) is None
    with pytest.raises(cluster.InsecureTransport, match="incomplete: set c.MlkitGrade.tls_key_file"):
        cluster.cluster_security("tls://10.0.0.1:8786", {"tls_ca_file": "a", "tls_cert_file": "b"})
    with pytest.raises(cluster.InsecureTransport, match="no such file"):
        cluster.cluster_security("tls://10.0.0.1:8786", {name: str(tmp_path / name) for name in cluster.TLS_SETTINGS})
