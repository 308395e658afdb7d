"""nbgrader's plug-ins of the kit: they run in nbgrader's process, the instructor's.

That process holds the course (source with its hidden tests, release, gradebook) and trusts it and its own
configuration; it trusts nothing of a submission, which it only reads as data, and runs no student code
(`execute.ResilientExecute` hands it to the trusted grading kernel, which hands it to the sandbox). Each is
switched on by its dotted path in the course's `nbgrader_config.py`, in this order of a notebook's autograde:

- `reading.set_aside_unsafe_files` (Autograde.pre_convert_hook): links and special files out of `submitted/`;
- `reading.TolerantNotebookExporter` (Autograde.exporter_class): an unreadable notebook graded as empty,
  with the reason;
- `rebuild.RebuildFromRelease` (first sanitize step): the notebook rebuilt from the release's cells;
- `issues.ReadGradingIssues`, then `execute.ResilientExecute` (nbgrader's Execute across the boundary), then
  `output_limits.LimitOutputSize`, then `issues.RecordGradingIssues` (the reasons into the gradebook);
- `exchange.LinkSafeCollect`, `exchange.CheckedReleaseAssignment`, `exchange.CheckedReleaseFeedback`
  (ExchangeFactory): collect and release on a shared hub;
- `lmszip.CanvasCollector`, `lmszip.MoodleCollector` (ZipCollectApp.collector_plugin) and
  `lmszip.ExchangeOnlyReleaseFeedback`: a course on an LMS.

`cells` holds what they share: which cells are answers, where each runs, a notebook's grading issue.
"""
