"""Routes of the composing layer: the case, model, mask, study, ground-truth, audit and results APIs and
the study pages (the case pages live in ``frontend``, training in ``training``)."""

from django.urls import path

from portal.api import (
    audit,
    cases,
    ground_truth,
    inference,
    orientation,
    pacs,
    reads,
    results,
    segmentations,
    specimen,
    studies,
    tokens,
    uploads,
)
from portal.pages import results as results_pages
from portal.pages import studies as study_pages

# Results to PACS; first, so that results/send/ is not taken for a results/<fmt>/ download.
pacs_patterns = [
    path("api/dicom-nodes/", pacs.DicomNodeListApi.as_view(), name="api-dicom-node-list"),
    path("api/dicom-nodes/<int:node_id>/", pacs.DicomNodeDetailApi.as_view(), name="api-dicom-node"),
    path("api/cases/<str:code>/results/send/", pacs.ResultSendApi.as_view(), name="api-case-result-send"),
    path("api/cases/<str:code>/deliveries/", pacs.CaseDeliveriesApi.as_view(), name="api-case-deliveries"),
]

case_patterns = [
    path("api/cases/", cases.CaseListApi.as_view(), name="api-case-list"),
    path("api/cases/upload/", cases.CaseUploadApi.as_view(), name="api-case-upload"),
    path("api/uploads/", uploads.UploadSessionListApi.as_view(), name="api-upload-list"),
    path("api/uploads/<str:token>/", uploads.UploadSessionDetailApi.as_view(), name="api-upload"),
    path("api/uploads/<str:token>/complete/", uploads.UploadSessionCompleteApi.as_view(), name="api-upload-complete"),
    path("api/ingests/", uploads.IngestListApi.as_view(), name="api-ingest-list"),
    path("api/cases/<str:code>/", cases.CaseDetailApi.as_view(), name="api-case-detail"),
    path("api/cases/<str:code>/state/", cases.CaseStateApi.as_view(), name="api-case-state"),
    path("api/cases/<str:code>/volumes/<str:kind>/", cases.CaseVolumeApi.as_view(), name="api-case-volume"),
    path("api/cases/<str:code>/segmentations/", segmentations.SegmentationListApi.as_view(),
         name="api-segmentations"),
    path("api/cases/<str:code>/segmentations/draft/", segmentations.DraftApi.as_view(),
         name="api-segmentation-draft"),
    path("api/cases/<str:code>/segmentations/<int:segmentation_id>/mask/",
         segmentations.SegmentationMaskApi.as_view(), name="api-segmentation-mask"),
    path("api/cases/<str:code>/orientation/", orientation.CaseOrientationApi.as_view(), name="api-case-orientation"),
    path("api/cases/<str:code>/specimen-surfaces/", specimen.SpecimenSurfaceListApi.as_view(),
         name="api-specimen-surfaces"),
    path("api/cases/<str:code>/specimen-surfaces/<int:surface_id>/mask/", specimen.SpecimenSurfaceMaskApi.as_view(),
         name="api-specimen-surface-mask"),
    path("api/cases/<str:code>/inference/", inference.InferenceRequestApi.as_view(), name="api-case-inference"),
    path("api/cases/<str:code>/results/<str:fmt>/", inference.ResultExportApi.as_view(), name="api-case-result"),
    path("api/inference-runs/<int:run_id>/", inference.InferenceRunApi.as_view(), name="api-inference-run"),
    path("api/models/", inference.ModelVersionListApi.as_view(), name="api-model-list"),
]

study_patterns = [
    path("api/cases/<str:code>/reads/", reads.CaseReadListApi.as_view(), name="api-case-reads"),
    path("api/cases/<str:code>/reads/<int:read_id>/", reads.CaseReadDetailApi.as_view(), name="api-case-read"),
    path("api/cases/<str:code>/reads/<int:read_id>/amend/", reads.CaseReadAmendApi.as_view(),
         name="api-case-read-amend"),
    path("api/studies/", studies.StudyListApi.as_view(), name="api-study-list"),
    path("api/studies/mine/", studies.MyStudiesApi.as_view(), name="api-study-mine"),
    path("api/studies/audit/", audit.AuditListApi.as_view(), name="api-audit-list"),
    path("api/studies/audit/export/", audit.AuditExportApi.as_view(), name="api-audit-export"),
    path("api/studies/ground-truth/", ground_truth.GroundTruthOverviewApi.as_view(), name="api-gt-overview"),
    path("api/studies/ground-truth/<str:code>/", ground_truth.GroundTruthCaseApi.as_view(), name="api-gt-case"),
    path("api/studies/ground-truth/<str:code>/<int:ground_truth_id>/", ground_truth.GroundTruthVersionApi.as_view(),
         name="api-gt-version"),
    path("api/studies/ground-truth/<str:code>/<int:ground_truth_id>/sign-off/", ground_truth.GroundTruthSignOffApi.as_view(),
         name="api-gt-sign-off"),
    path("api/studies/<int:study_id>/", studies.StudyDetailApi.as_view(), name="api-study-detail"),
    path("api/studies/<int:study_id>/cases/", studies.StudyAddCasesApi.as_view(), name="api-study-cases"),
    path("api/studies/<int:study_id>/readers/", studies.StudyAddReadersApi.as_view(), name="api-study-readers"),
    path("api/studies/<int:study_id>/close/", studies.StudyCloseApi.as_view(), name="api-study-close"),
    path("api/studies/<int:study_id>/sessions/<int:session_id>/schedule/", studies.SessionScheduleApi.as_view(),
         name="api-session-schedule"),
    path("api/studies/<int:study_id>/worklist/", studies.WorklistApi.as_view(), name="api-study-worklist"),
    path("api/studies/<int:study_id>/reads/export/", studies.StudyReadsExportApi.as_view(), name="api-study-reads-export"),
    path("api/studies/<int:study_id>/ground-truth/import/", ground_truth.StudyGroundTruthImportApi.as_view(),
         name="api-study-gt-import"),
]

study_page_patterns = [
    path("studies/", study_pages.studies_home, name="study-home"),
    path("studies/new/", study_pages.study_create_page, name="study-create"),
    path("studies/audit/", study_pages.audit_page, name="audit-log"),
    path("studies/ground-truth/", study_pages.ground_truth_list_page, name="gt-list"),
    path("studies/ground-truth/<str:code>/", study_pages.ground_truth_case_page, name="gt-case"),
    path("studies/<int:study_id>/", study_pages.study_detail_page, name="study-detail"),
    path("studies/<int:study_id>/action/", study_pages.study_action, name="study-action"),
    path("studies/<int:study_id>/worklist/", study_pages.worklist_page, name="study-worklist"),
    path("studies/<int:study_id>/next/", study_pages.worklist_next, name="study-next"),
    path("studies/<int:study_id>/read/<str:code>/", study_pages.study_read, name="study-read"),
]


results_patterns = [
    path("studies/<int:study_id>/results/", results_pages.study_results_page, name="study-results"),
    path("api/studies/<int:study_id>/results/", results.StudyResultsApi.as_view(), name="api-study-results"),
    path("api/studies/<int:study_id>/results/json", results.StudyResultsJsonExportApi.as_view(),
         name="api-study-results-json"),
    path("api/studies/<int:study_id>/results/reads.csv", results.StudyReadsCsvExportApi.as_view(),
         name="api-study-results-reads"),
    path("api/studies/<int:study_id>/results/statistics.csv", results.StudyStatisticsCsvExportApi.as_view(),
         name="api-study-results-statistics"),
    path("api/studies/<int:study_id>/results/study.imrmc", results.StudyImrmcExportApi.as_view(),
         name="api-study-results-imrmc"),
    path("api/studies/<int:study_id>/results/masks.zip", results.StudyMasksZipExportApi.as_view(),
         name="api-study-results-masks"),
    path("api/studies/<int:study_id>/results/chart-<str:chart>.csv", results.StudyChartCsvExportApi.as_view(),
         name="api-study-results-chart"),
]

token_patterns = [
    path("api/tokens/", tokens.ApiTokenListApi.as_view(), name="api-token-list"),
    path("api/tokens/<str:token_key>/", tokens.ApiTokenDetailApi.as_view(), name="api-token-detail"),
]

urlpatterns = token_patterns + pacs_patterns + case_patterns + study_patterns + study_page_patterns + results_patterns
