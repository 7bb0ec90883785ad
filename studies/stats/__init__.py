"""Statistics for reader studies and model evaluation (numpy/scipy only; no Django, no torch).

Every result is a frozen dataclass with ``to_dict()`` returning JSON-ready Python. A statistic
that is undefined for the data is a ``NotComputable(reason=...)``, never NaN. Public functions
take keyword arguments only. Import from the submodules:

- ``results``: ``NotComputable``, ``Estimate`` (value + 95% CI), ``jsonable()``.
- ``proportion``: ``clopper_pearson_ci``, ``wilson_ci``, ``proportion_ci`` (default "exact").
- ``binary``: ``to_binary`` (positive/close/negative -> bool), ``confusion_counts``,
  ``binary_metrics`` / ``metrics_from_counts`` (sensitivity, specificity, PPV, NPV, accuracy with
  Clopper-Pearson or Wilson CIs; F1 with a seeded bootstrap CI), ``mean_sd``, ``reader_mean_sd``.
- ``kappa``: ``cohens_kappa`` / ``cohens_kappa_from_table`` (Fleiss-Cohen-Everitt SE),
  ``kappa_matrix`` (pairwise), ``fleiss_kappa`` / ``fleiss_kappa_from_table``.
- ``mcnemar``: ``mcnemar_exact``, ``mcnemar_exact_from_counts``, ``compare_paired_accuracy``.
- ``segmentation``: ``dice``, ``hausdorff_distance`` (HD95 by default), ``mean_surface_distance``,
  ``surface_distances``, ``segmentation_agreement`` (mm, anisotropic spacing, 2D or 3D).
- ``roc``: ``wilcoxon_auc``, ``jackknife_aucs``, ``auc_with_ci`` (DeLong or jackknife SE).
- ``imrmc``: ``MrmcData``, ``MrmcInputError``, ``parse_imrmc``, ``write_imrmc`` (iMRMC format).
- ``mrmc``: ``obuchowski_rockette`` (OR / Hillis: RRRC, FRRC, single-modality CIs),
  ``analyse_imrmc_file``, ``MrmcResult``; reproduces the published Van Dyke results.
- ``standalone``: ``model_vs_readers_auc`` (model AUC vs readers' mean AUC, 1T-RRRC).
"""
