from django.apps import AppConfig


def _after_case_import(*, case, user=None):
    # Imported on first use: ready() stays light for every process (no torch for `migrate`).
    from inference.services import inference_after_import

    return inference_after_import(case=case, user=user)


class InferenceConfig(AppConfig):
    name = "inference"

    def ready(self) -> None:
        # cases cannot import inference (floors point one way): it announces imports, inference listens.
        from cases.events import on_case_imported

        on_case_imported(_after_case_import)
