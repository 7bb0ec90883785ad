"""Generate phantoms, import them, run the model and simulate a reader study with ground truth."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from petctweb.errors import DomainError
from portal.simulate import simulate_study
from studies.models import Study
from studies.results.compute import compute
from studies.results.report import headline


class Command(BaseCommand):
    help = ("Simulate a complete reader study: small generated phantoms, the default model (if registered), "
            "simulated readers (seeded; better when aided) and ground truth from the phantom truth. Prints the "
            "study id, the results URL and headline numbers.")

    def add_arguments(self, parser):
        parser.add_argument("--readers", type=int, default=4)
        parser.add_argument("--cases", type=int, default=12)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--design", choices=Study.Design.values, default=Study.Design.CROSSOVER)
        parser.add_argument("--size", choices=["small", "full"], default="small", help="phantom size preset")
        parser.add_argument("--model", choices=["default", "simulated", "none"], default="default",
                            help="default: run the registered default model (none if there is none); simulated: "
                                 "store a labelled simulated model output instead of running a network")
        parser.add_argument("--threshold-mm", type=float, default=1.0)
        parser.add_argument("--name", default=None, help="study name (default: from the parameters)")
        parser.add_argument("--work-dir", type=Path, default=None, help="keep the generated DICOM here")

    def handle(self, *args, readers: int, cases: int, seed: int, design: str, size: str, model: str,
               threshold_mm: float, name, work_dir, **options):
        if not 1 <= readers <= 50:
            raise CommandError("--readers must be between 1 and 50")
        if not 1 <= cases <= 500:
            raise CommandError("--cases must be between 1 and 500")
        try:
            result = simulate_study(readers=readers, cases=cases, seed=seed, design=design, size=size, model=model,
                                    threshold_mm=threshold_mm, work_dir=work_dir, name=name,
                                    progress=lambda message: self.stderr.write(message))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        study = result.study
        _, report = compute(study)
        self.stdout.write(f"study id: {study.pk}")
        self.stdout.write(f"study: {study.name}")
        self.stdout.write(f"results: {reverse('study-results', kwargs={'study_id': study.pk})}")
        self.stdout.write(f"model: {result.model or 'none'}" + (f" ({result.model_note})" if result.model_note else ""))
        self.stdout.write(f"reads: {result.reads} (+{result.amendments} amendments) by {', '.join(result.readers)}")
        for line in headline(report):
            self.stdout.write(f"  {line}")
