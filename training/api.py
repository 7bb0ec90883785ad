"""Training API (study administrators): request "retrain with the current ground truth", follow the jobs."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from petctweb.errors import DomainError
from petctweb.permissions import IsStudyAdmin
from training import selectors, services

MAX_LISTED = 50


class TrainingJobInput(serializers.Serializer):
    folds = serializers.IntegerField(min_value=services.FOLDS_RANGE[0], max_value=services.FOLDS_RANGE[1], default=5)
    epochs = serializers.IntegerField(min_value=services.EPOCHS_RANGE[0], max_value=services.EPOCHS_RANGE[1],
                                      default=30)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    make_default = serializers.BooleanField(default=False)


def _validated(data) -> dict:
    """Input errors become one readable 400 {detail, code}."""
    serializer = TrainingJobInput(data=data)
    if not serializer.is_valid():
        parts = []
        for name, problems in serializer.errors.items():
            text = "; ".join(str(p) for p in problems) if isinstance(problems, list) else str(problems)
            parts.append(text if name == "non_field_errors" else f"{name}: {text}")
        raise DomainError("; ".join(parts) or "invalid input", code="invalid")
    return serializer.validated_data


def jobs_overview() -> dict:
    """What the training page polls: the jobs, the active one and what a new job would train on."""
    active = selectors.training_job_active()
    return {
        "results": [selectors.training_job_payload(job) for job in selectors.training_job_list()[:MAX_LISTED]],
        "active": active.pk if active else None,
        "eligible": selectors.training_eligibility().summary(),
    }


class TrainingJobListApi(APIView):
    """GET: recent training jobs and the eligible ground truth. POST: retrain with the current ground truth."""

    permission_classes = [IsStudyAdmin]

    def get(self, request):
        return Response(jobs_overview())

    def post(self, request):
        data = _validated(request.data)
        job = services.training_job_request(user=request.user, **data)
        return Response(selectors.training_job_payload(job), status=status.HTTP_202_ACCEPTED)


class TrainingJobDetailApi(APIView):
    permission_classes = [IsStudyAdmin]

    def get(self, request, job_id: int):
        job = selectors.training_job_list().filter(pk=job_id).first()
        if job is None:
            raise DomainError(f"no training job {job_id}", code="not_found", http_status=404)
        return Response(selectors.training_job_payload(job))
