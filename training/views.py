"""The training page (study administrators): retrain with the current ground truth, follow the jobs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse

from petctweb.roles import is_study_admin, primary_role
from training import services
from training.api import jobs_overview

POLL_SECONDS = 3


@login_required
def training_page(request):
    if not is_study_admin(request.user):
        raise PermissionDenied("Only study administrators may retrain the model.")
    overview = jobs_overview()
    config = {
        "apiUrl": reverse("api-training-jobs"),
        "modelsUrl": reverse("api-model-list"),
        "pollSeconds": POLL_SECONDS,
    }
    return render(request, "training/training.html", {
        "role": primary_role(request.user),
        "config": config,
        "overview": overview,
        "jobs": overview["results"],
        "eligible": overview["eligible"],
        "folds_range": services.FOLDS_RANGE,
        "epochs_range": services.EPOCHS_RANGE,
        "models_url": config["modelsUrl"],
    })
