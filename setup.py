"""ELECTRA pre-training for TensorFlow and Keras 3.

Runtime dependencies are pinned to one set that resolves together and passes
`pip check`; change them together.
"""
from setuptools import find_packages, setup

RUNTIME = [
    "tensorflow==2.20.0",
    "keras==3.15.1",
    "tensorflow-text==2.20.1",
    "tensorflow-serving-api==2.20.0",  # PredictionLog protos of the SavedModel's warmup requests
    "tf-models-official==2.20.0",
    "tf-keras==2.20.1",  # what tf-models-official imports; never used by models/
    "apache-beam==2.77.0",
    "google-crc32c==1.9.0",  # record checksums for beam.io.WriteToTFRecord
    "sentencepiece==0.2.3",
    "mwparserfromhell==0.7.2",  # wikitext -> plain text
    "blingfire==0.1.8",  # sentence splitting
    "warcio==1.8.1",  # WARC / WET record reading (web crawls)
    "resiliparse==2.0.1",  # HTML main-text extraction and encoding detection
    "tqdm==4.70.1",
    "safetensors==0.8.0",  # Hugging Face weights for trainers.convert, read and written without torch
]
# Beam's DaskRunner on a Dask `distributed` cluster (README, "Other Beam runners").
DASK = ["dask==2026.8.0", "distributed==2026.8.0"]
# Keras 3's JAX backend, for benchmarks/accelerator_throughput.py (CPU wheels; on a GPU
# machine install jax[cuda12] of the same version instead).
JAX = ["jax==0.10.2", "jaxlib==0.10.2"]

# Top-level packages; their sub-packages (trainers.tasks, ...) are found below them.
PACKAGES = ("configs", "core", "pipelines", "models", "trainers")

setup(
    name="electra-tf",
    version="0.1.0",
    description="ELECTRA pre-training (replaced token detection) for TensorFlow and Keras 3",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=[f"{top}{sub}" for top in PACKAGES for sub in ("", ".*")]),
    install_requires=RUNTIME,
    extras_require={
        "dev": ["pytest==9.2.0", "pytest-xdist==3.8.0", *DASK, *JAX],
        "gcp": ["apache-beam[gcp]==2.77.0"],
        "dask": DASK,
        "jax": JAX,
    },
)
