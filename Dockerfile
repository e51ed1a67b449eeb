# sanctions-watch worker image: slim Python, non-root, the package installed from this repo
# with the same pinned requirements as pyproject.toml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 pipeline
WORKDIR /app

COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY storage ./storage
RUN pip install .

USER pipeline
WORKDIR /home/pipeline
ENTRYPOINT ["pipeline"]
CMD ["--config", "/config/feeds.yaml", "run"]
