"""What travels to a Dask worker and what is taken back from one, checked as data
(mlkit/grading/backends/dask_bundle.py, dask_client.py).

The real cluster, forged results from a real worker and another account's attempts are in
tests/test_distributed.py; here, each rule of `portable_config` and `read_result` (and of the feedback
pages' `dask_feedback.read_pages`) on its own, fast.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from traitlets.config import Config

from mlkit.grading import autograde, render
from mlkit.grading.backends import dask_bundle, dask_client, dask_feedback
from mlkit.reports import templates

LIMITS = {"linear_regression": {"grades": {"test_fit": 3.0, "test_predict": 2.0}, "comments": {"answer_fit"},
                                "points": 5.0}}
SENT = {"linear_regression.ipynb", "timestamp.txt", "data/train.csv"}


def _result(**changes) -> dict:
    result = {"digest": "d" * 64, "status": autograde.GRADED, "seconds": 2.5, "reason": "",
              "files": {"linear_regression.ipynb": b"{}", "timestamp.txt": b"2026-01-01 00:00:00"},
              "records": {"timestamp": "2026-01-01T00:00:00", "notebooks": {"linear_regression": {
                  "late_submission_penalty": None, "grades": {"test_fit": [3.0, False], "test_predict": [None, True]},
                  "comments": {"answer_fit": "No response."}}}}}
    result.update(changes)
    return result


def _read(result) -> dict:
    return dask_bundle.read_result(dask_bundle.pack(result), "d" * 64, SENT, LIMITS)


def test_an_honest_result_is_read():
    read = _read(_result())
    assert read["status"] == autograde.GRADED and read["files"]["timestamp.txt"].startswith(b"2026")
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
    with pytest.raises(dask_bundle.RefusedResult, match=re.escape(reason)):
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
        with pytest.raises(dask_bundle.RefusedResult):
            _read(result)


def test_only_msgpack_bytes_are_read_never_a_pickle():
    with pytest.raises(dask_bundle.RefusedResult, match="no msgpack document"):
        dask_bundle.read_result(pickle.dumps(_result()), "d" * 64, SENT, LIMITS)
    with pytest.raises(dask_bundle.RefusedResult, match="sent a dict"):
        dask_bundle.read_result(_result(), "d" * 64, SENT, LIMITS)


class RunsCode:
    def __reduce__(self):
        return (print, ("ran",))


def test_while_connected_no_pickle_may_name_a_function():
    payload = pickle.dumps(RunsCode())
    with dask_client.refuse_unpickling():
        with pytest.raises(dask_client.UnpicklingRefused, match="builtins.print"):
            pickle.loads(payload)
        assert pickle.loads(pickle.dumps({"data": [b"bytes", 1.5, "text"]}))["data"][0] == b"bytes"
    pickle.loads(payload)  # outside, the hook is idle


def test_a_worker_reason_cannot_write_to_the_terminal():
    read = _read(_result(status=autograde.FAILED, reason="\x1b]0;owned\x07fine" + "x" * 5000))
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
    config.ExchangeFactory.collect = "mlkit.grading.plugins.exchange.LinkSafeCollect"
    config.Whatever.service_password = "pw-3"
    config.Whatever.mirror = "https://user:pw-4@example.org/"
    shown = dask_bundle.portable_config(config)
    assert shown == {"CourseDirectory": {"course_id": "course"}, "ResilientExecute": {"timeout": 30},
                     "Autograde": {"sanitize_preprocessors": ["nbgrader.preprocessors.ClearOutput"]}}
    assert b"pw-" not in dask_bundle.pack(shown)
    config.Autograde.exporter_class = Config  # a class object: cannot travel, and says which setting
    with pytest.raises(dask_bundle.ConfigNotPortable, match="c.Autograde.exporter_class"):
        dask_bundle.portable_config(config)


def test_a_plain_scheduler_needs_the_network_said_private(tmp_path):
    with pytest.raises(dask_client.InsecureTransport, match="--private-network"):
        dask_client.cluster_security("tcp://10.0.0.1:8786", {})
    assert dask_client.cluster_security("tcp://10.0.0.1:8786", {}, private_network=True) is None
    with pytest.raises(dask_client.InsecureTransport, match="incomplete: set c.MlkitGrade.tls_key_file"):
        dask_client.cluster_security("tls://10.0.0.1:8786", {"tls_ca_file": "a", "tls_cert_file": "b"})
    with pytest.raises(dask_client.InsecureTransport, match="no such file"):
        dask_client.cluster_security("tls://10.0.0.1:8786", {name: str(tmp_path / name) for name in dask_client.TLS_SETTINGS})


# -- feedback pages (mlkit/grading/backends/dask_feedback.py) ------------------------------------

GRADED = {"linear_regression.ipynb": b"{}", "timestamp.txt": b"2026-01-01 00:00:00", "data/train.csv": b"x,y\n"}


def _pages(**changes) -> dict:
    pages = {"digest": "d" * 64, "status": render.WRITTEN, "seconds": 1.5, "reason": "",
             "files": {"linear_regression.html": b"<html></html>", "timestamp.txt": GRADED["timestamp.txt"],
                       "data/train.csv": GRADED["data/train.csv"]}}
    pages.update(changes)
    return pages


def _read_pages(pages) -> dict:
    return dask_feedback.read_pages(dask_bundle.pack(pages), "d" * 64, GRADED)


def test_honest_feedback_pages_are_read():
    read = _read_pages(_pages())
    assert read["status"] == render.WRITTEN and read["files"]["linear_regression.html"] == b"<html></html>"
    failed = _read_pages(_pages(status=render.FAILED, reason="\x1b[2Jgone", files=None))
    assert failed["status"] == render.FAILED and "\x1b" not in failed["reason"]


@pytest.mark.parametrize("forged, reason", [
    (_pages(digest="e" * 64), "does not answer the submission that was sent"),
    (_pages(files={"linear_regression.html": b"", "../../../.bashrc": b"run me"}), "refused a file path outside"),
    (_pages(files={"linear_regression.html": b"", "/home/instructor/.bashrc": b""}), "refused a file path"),
    (_pages(files={"linear_regression.html": b"", "other.html": b""}), "neither a graded notebook's page"),
    (_pages(files={"linear_regression.html": b"", "linear_regression.ipynb": b"{}"}),
     "neither a graded notebook's page"),
    (_pages(files={"linear_regression.html": b"", "timestamp.txt": b"2020-01-01 00:00:00"}),
     "copy of 'timestamp.txt' differs from the graded file"),
    (_pages(files={"linear_regression.html": b" " * (dask_feedback.MAX_PAGE_BYTES + 1)}), "more than"),
    (_pages(files={"timestamp.txt": GRADED["timestamp.txt"]}), "lacks the page 'linear_regression.html'"),
    (_pages(files={"linear_regression.html": "text"}), "not a map of paths to bytes"),
    (_pages(status="graded"), "has the status"),
])
def test_a_forged_feedback_result_is_refused_with_the_reason(forged, reason):
    with pytest.raises(dask_bundle.RefusedResult, match=re.escape(reason)):
        _read_pages(forged)


def test_feedback_travels_with_no_secret_and_its_templates_found_where_the_worker_has_them(tmp_path):
    config = Config()
    config.CourseDirectory.db_url = "postgresql://grader:pw-1@db/gradebook"
    config.OfflineFeedbackExporter.extra_template_basedirs = templates.basedirs() + [str(tmp_path / "mine")]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "index.html.j2").write_text("{% extends 'feedback.html.j2' %}")
    shown, folders = dask_feedback.travelling_templates(dask_bundle.portable_config(config), tmp_path)
    assert b"pw-" not in dask_bundle.pack(shown) and str(tmp_path) not in str(shown)
    assert shown["OfflineFeedbackExporter"]["extra_template_basedirs"] == [
        "mlkit-package:mlkit/reports/templates", "mlkit-package:nbgrader/server_extensions/formgrader/templates",
        "mlkit-course-templates:0"]
    worker = dask_feedback._resolve_templates(shown, dask_bundle.unpack(folders)["folders"], tmp_path / "scratch")
    found = worker["OfflineFeedbackExporter"]["extra_template_basedirs"]
    assert found[:2] == templates.basedirs() and (Path(found[2]) / "index.html.j2").read_text().startswith("{%")
    config.OfflineFeedbackExporter.extra_template_basedirs = ["/srv/elsewhere/templates"]
    with pytest.raises(dask_bundle.ConfigNotPortable, match="c.OfflineFeedbackExporter.extra_template_basedirs"):
        dask_feedback.travelling_templates(dask_bundle.portable_config(config), tmp_path)


def test_feedback_refuses_a_plain_scheduler_before_connecting(tmp_path):
    with pytest.raises(dask_client.InsecureTransport, match="--private-network"):
        dask_feedback.generate(tmp_path, [], "tcp://127.0.0.1:9", config=Config())
    with pytest.raises(dask_client.InsecureTransport, match="needs the cluster's CA"):
        dask_feedback.generate(tmp_path, [], "tls://127.0.0.1:9", config=Config())
