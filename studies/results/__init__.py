"""Study results: model and readers side by side, agreement statistics, dashboard and exports.

- :mod:`studies.results.table` (Django-free): the table's dataclasses and the scoring conventions.
- :mod:`studies.results.data` (Django): assembles one study's table of cases: the signed-off
  ground truth (latest signed-off version), the model's call and ROC score, every reader's final
  call per session (latest amendment) and the masks involved (:class:`StudyTable`).
- :mod:`studies.results.report` (Django-free): computes every statistic from a ``StudyTable`` by
  calling :mod:`studies.stats`; the result is plain JSON (``not_computable`` + reason where a
  method cannot run, never NaN). The scoring conventions are in ``METHODS`` there.
- :mod:`studies.results.exports`: CSV (reads, statistics), iMRMC, JSON and the masks zip.
- :mod:`studies.results.compute`: table + report of a study (cached segmentation metrics).
- The admin-only endpoints, the dashboard and ``simulate_study`` live in the composing layer
  (``portal.api.results``, ``portal.pages.results``, ``portal.simulate``).
"""
