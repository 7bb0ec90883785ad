"""DICOM receiver: a C-STORE SCP that stores CT/PET instances and hands complete studies to ingest.

``syntaxes``, ``store``, ``scp`` and ``quiet`` are Django-free; ``services`` and ``listener`` hold the
database side (``ReceivedStudy``) and the process that runs the SCP with its quiet-time timer.
"""
