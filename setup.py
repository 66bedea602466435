from setuptools import find_packages, setup

setup(
    name="zidong",
    version="0.1.0",
    description="MindSpore-native tri-modal (image, text, speech) foundation model",
    packages=find_packages(include=["zidong", "zidong.*"]),
    python_requires=">=3.9,<3.12",
    install_requires=[
        "mindspore==2.10.0",
        # MindSpore 2.10's binary is built against NumPy 1.x; with NumPy 2 PyNative ops fail.
        "numpy>=1.25,<2",
        "pillow",
        "librosa",
        "pyyaml",
        "soundfile",     # WAV reading/writing with clear errors on truncated files
        "sentencepiece", # bilingual subword tokenizer (Google's, used by T5/LLaMA): no hand-written BPE
        "pypinyin",      # Chinese captions -> tone-numbered pinyin for espeak-ng's cmn-latn-pinyin voice
        "matplotlib",    # training curves and report figures as PNG
        "pocketsphinx",  # independent English ASR scorer of generated speech; the wheel ships its model
    ],
    # pytest-xdist: the suite's tests are mostly single-threaded graph compilations, so two
    # processes on two cores take ~27% off its wall time (tools/test.sh runs -n 2)
    extras_require={"test": ["pytest", "pytest-xdist"]},
    entry_points={"console_scripts": ["zidong=zidong.cli:main"]},
)
