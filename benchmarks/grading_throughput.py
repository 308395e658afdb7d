"""Grading throughput: stock `nbgrader autograde` against `mlkit grade`, on one synthetic class, in one run.

    .venv/bin/python benchmarks/grading_throughput.py --students 40

Method
- A synthetic class is built from the kit's own catalog: student i submits,
  for every assignment, catalog entry i modulo the catalog's size (the
  reference, the alternatives, the mutants and the untouched release, in
  turn), so the class holds correct, wrong and empty work.
- Two identical copies of the course are graded on the same machine, one
  after the other, with the same nbgrader_config.py (grading boundary, sandbox and all):
  stock = one `nbgrader autograde ASSIGNMENT` per assignment, as nbgrader's
  documentation runs it; kit = one `mlkit grade` for the whole class.
  Wall-clock time of each, from the first command's start to the last's end.
- The two gradebooks must be identical (every grade, flag and comment).
- Per-notebook hidden-test time: the source notebook (reference solution
  and hidden tests) is executed once with nbclient, as the autograder would
  (NBGRADER_EXECUTION set, so pictures and real-data cells are skipped), and
  the execution time of its graded test cells is summed.
- With --distributed, two more identical copies are graded through a real
  Dask cluster on this machine: a `dask scheduler` and one, then two,
  `dask worker --nthreads 1 --no-nanny` processes, each started in an empty
  folder of its own (as on machines that share no folder with the course).
  The client (`mlkit.grading.backends.dask_client.grade`) runs in this process, so its
  own CPU time (time.process_time: every thread of it, i.e. reading and
  sending the submissions, Dask's scheduling traffic, receiving the graded
  folders and writing the gradebook) is measured apart from the workers'
  and divided by the number of notebooks: the budget that bounds how many
  workers one client can feed. Each worker's first notebook of an
  assignment also pays for its generate_assignment (a scratch course).
Machines here are noisy: compare the ratio from one run, not absolute
numbers across runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mlkit import course, layout  # noqa: E402
from mlkit.authoring import catalog
from support import gradebook_rows  # noqa: E402


def build_class(root: Path, assignments: list[str], students: int) -> None:
    for assignment in assignments:
        course.nbgrader(root, "generate_assignment", assignment, "--force")
        entries = list(catalog.catalog_answers(assignment, root=root).values())
        for i in range(students):
            nb = catalog.submission_notebook(assignment, entries[i % len(entries)], root=root)
            catalog.write_submission(root, f"student{i:03d}", assignment, nb, root=root)


def hidden_test_seconds(assignment: str) -> float:
    """Seconds the graded test cells of the reference notebook take to run."""
    from nbclient import NotebookClient

    nb = nbformat.read(layout.notebook_path(assignment), as_version=4)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        # The kernel's own warning that loopback TCP is unencrypted is about its set-up, not this measurement.
        NotebookClient(nb, extra_arguments=["--IPKernelApp.log_level=ERROR"], timeout=120, record_timing=True,
                       resources={"metadata": {"path": str(layout.notebook_path(assignment).parent)}}).execute()
    finally:
        del os.environ["NBGRADER_EXECUTION"]
    total = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            timing = cell.metadata["execution"]
            start = dt.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = dt.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            total += (end - start).total_seconds()
    return total


class LocalDaskCluster:
    """A scheduler and `workers` workers on 127.0.0.1, each a `dask` process in an empty folder of its own."""

    def __init__(self, workers: int):
        import socket

        self.folder = Path(tempfile.mkdtemp(prefix="mlkit-dask-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        dask = str(Path(sys.executable).parent / "dask")
        self.processes = [self._start(dask, "scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                                          "--no-dashboard"])]
        for i in range(workers):
            self.processes.append(self._start(dask, f"worker{i}", ["worker", self.address, "--nthreads", "1",
                                                                    "--no-nanny", "--no-dashboard"]))
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def _start(self, dask: str, name: str, args: list[str]) -> subprocess.Popen:
        folder = self.folder / name
        folder.mkdir()
        return subprocess.Popen([dask, *args, *(["--local-directory", str(folder)] if name != "scheduler" else [])],
                                cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def grade_on_cluster(root: Path, assignments: list[str], workers: int) -> tuple[float, float]:
    """(wall seconds, client CPU seconds) of grading `root` on a new local cluster of `workers` workers."""
    from mlkit.grading.backends import dask_client

    dask = LocalDaskCluster(workers)
    try:
        started, cpu = time.monotonic(), time.process_time()
        results = dask_client.grade(root, assignments, dask.address, progress=False, private_network=True)  # 127.0.0.1
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
    finally:
        dask.close()
    failed = [r for r in results if r[2] != "graded"]
    if failed:
        raise RuntimeError(f"{len(failed)} submissions not graded on the cluster: {failed[:3]}")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--assignments", nargs="*", default=None)
    parser.add_argument("--jobs", type=int, default=None, help="mlkit grade workers (default: its own, two per core)")
    parser.add_argument("--distributed", action="store_true",
                        help="also grade on a local Dask cluster of one and of two workers")
    parser.add_argument("--keep", action="store_true",
                        help="keep the graded copies (their folder is printed) to read why gradebooks differ")
    args = parser.parse_args()
    assignments = args.assignments or layout.assignments()

    work = Path(tempfile.mkdtemp(prefix="mlkit-bench-"))
    base = course.new_course(work / "base", assignments)
    build_class(base, assignments, args.students)
    stock, kit = work / "stock", work / "kit"
    shutil.copytree(base, stock)
    shutil.copytree(base, kit)
    copies = {n: work / f"dask{n}" for n in ((1, 2) if args.distributed else ())}
    for folder in copies.values():
        shutil.copytree(base, folder)
    notebooks = args.students * len(assignments)

    started = time.monotonic()
    for assignment in assignments:
        course.nbgrader(stock, "autograde", assignment)
    stock_seconds = time.monotonic() - started

    started = time.monotonic()
    command = [sys.executable, "-m", "mlkit.cli", "grade", "--course", str(kit)]
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    kit_seconds = time.monotonic() - started

    on_cluster = {n: grade_on_cluster(folder, assignments, n) for n, folder in copies.items()}

    identical = gradebook_rows(stock) == gradebook_rows(kit)
    identical = identical and all(gradebook_rows(folder) == gradebook_rows(stock) for folder in copies.values())
    print(f"class: {args.students} students x {len(assignments)} assignments = {notebooks} notebooks "
          f"({os.cpu_count()} cores)")
    print(f"{'grader':<28}{'seconds':>10}{'notebooks/s':>14}")
    print(f"{'stock nbgrader autograde':<28}{stock_seconds:>10.1f}{notebooks / stock_seconds:>14.2f}")
    print(f"{'mlkit grade':<28}{kit_seconds:>10.1f}{notebooks / kit_seconds:>14.2f}")
    for n, (seconds, cpu) in on_cluster.items():
        label = f"mlkit grade, Dask {n} worker{'s' if n > 1 else ''}"
        print(f"{label:<28}{seconds:>10.1f}{notebooks / seconds:>14.2f}   client CPU {1000 * cpu / notebooks:.1f} ms"
              "/notebook")
    print(f"ratio (kit / stock throughput): {stock_seconds / kit_seconds:.2f}x")
    if on_cluster:
        print(f"ratio (Dask 2 workers / 1 worker throughput): {on_cluster[1][0] / on_cluster[2][0]:.2f}x; "
              f"Dask 2 workers / stock: {stock_seconds / on_cluster[2][0]:.2f}x")
    print(f"gradebooks identical: {identical}")
    if not identical:  # say where: a difference is a finding, never a number to quote
        reference = set(gradebook_rows(stock))
        for name, folder in {"mlkit grade": kit, **{f"Dask {n}": f for n, f in copies.items()}}.items():
            rows = set(gradebook_rows(folder))
            for row in sorted(map(str, reference - rows))[:10]:
                print(f"  stock only (vs {name}): {row}")
            for row in sorted(map(str, rows - reference))[:10]:
                print(f"  {name} only: {row}")
    print("\nhidden-test time of the reference solution, per notebook:")
    for assignment in assignments:
        print(f"  {assignment:<26}{hidden_test_seconds(assignment):6.2f} s")
    if args.keep:
        print(f"graded copies kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
