# geofm as a Hugging Face Docker Space (sdk: docker, app_port: 8501); also runs anywhere Docker does.
#
# torch: requirements.txt pins torch==2.13.0. From PyPI on Linux x86_64 that version is the CUDA build
# (the CUDA runtime comes as nvidia-* wheels), so a plain python base image is enough: the Space's GPU
# host provides the driver, and on CPU hardware the same wheel runs on the CPU. No CUDA base image needed.
FROM python:3.11-slim-bookworm

# Spaces run the container as uid 1000: build and run as that user, with caches under its home.
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/home/user/.cache/huggingface \
    GEOFM_CACHE_DIR=/home/user/.cache/geofm \
    GEOFM_WEIGHTS_DIR=/home/user/weights
WORKDIR /home/user/app
RUN mkdir -p "$HF_HOME" "$GEOFM_CACHE_DIR" "$GEOFM_WEIGHTS_DIR"

# 1. The README's set-up (runtime requirements only).
COPY --chown=user:user requirements.txt ./
RUN pip install --user -r requirements.txt

# 2. The published task weight files (the EO-2.0 fine-tunes with their config.yaml), at build time, pinned to a revision of each model repository
#    (pass commit hashes: docker build --build-arg FLOOD_REVISION=<sha> ...). They go under their
#    published names into GEOFM_WEIGHTS_DIR, where geofm looks first.
ARG MAE_REVISION=main
ARG FLOOD_REVISION=main
ARG CROPS_REVISION=main
ARG BURN_REVISION=main
ARG FLOOD2_REVISION=main
ARG BURN2_REVISION=main
RUN hf download ibm-nasa-geospatial/Prithvi-EO-1.0-100M Prithvi_EO_V1_100M.pt \
        --revision "$MAE_REVISION" --local-dir "$GEOFM_WEIGHTS_DIR" \
 && hf download ibm-nasa-geospatial/Prithvi-EO-1.0-100M-sen1floods11 sen1floods11_Prithvi_100M.pth \
        --revision "$FLOOD_REVISION" --local-dir "$GEOFM_WEIGHTS_DIR" \
 && hf download ibm-nasa-geospatial/Prithvi-EO-1.0-100M-multi-temporal-crop-classification \
        multi_temporal_crop_classification_Prithvi_100M.pth \
        --revision "$CROPS_REVISION" --local-dir "$GEOFM_WEIGHTS_DIR" \
 && hf download ibm-nasa-geospatial/Prithvi-EO-1.0-100M-burn-scar burn_scars_Prithvi_100M.pth \
        --revision "$BURN_REVISION" --local-dir "$GEOFM_WEIGHTS_DIR" \
 && hf download ibm-nasa-geospatial/Prithvi-EO-2.0-300M-TL-Sen1Floods11 Prithvi-EO-V2-300M-TL-Sen1Floods11.pt config.yaml \
        --revision "$FLOOD2_REVISION" --local-dir "$GEOFM_WEIGHTS_DIR" \
 && hf download ibm-nasa-geospatial/Prithvi-EO-2.0-300M-BurnScars Prithvi_EO_V2_300M_BurnScars.pt burn_scars_config.yaml \
        --revision "$BURN2_REVISION" --local-dir "$GEOFM_WEIGHTS_DIR"

# 3. The app, and the ready copies of the weights (folded, safetensors, checked by sha256 at start).
COPY --chown=user:user . ./
RUN python -m geofm weights prepare

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"
# What the hosting needs: listen on all interfaces on the Space's app_port (8501, README front matter), and no
# XSRF check. A Space shows the app in an iframe on huggingface.co while the app is served from *.hf.space; the
# browser does not send the app's XSRF cookie from inside that cross-site iframe, so Streamlit's XSRF check
# refuses every file upload with a 403 ("Your own file" page). Hugging Face's Docker-Space docs say to start
# Streamlit with --server.enableXsrfProtection false (https://huggingface.co/docs/hub/spaces-cookie-limitations).
# Only the Space's command turns it off: a local `streamlit run app.py` keeps the check.
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.enableXsrfProtection", "false"]
