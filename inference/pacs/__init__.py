"""Results back to PACS: DICOM destinations, SEG + SR documents for a run, C-STORE delivery with retries."""
