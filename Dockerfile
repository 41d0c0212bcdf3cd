# The grading service image: Debian's Python 3.11 (the sandbox user must be able to run
# the grading environment's interpreter) and bubblewrap.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev gcc make bubblewrap libseccomp2 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ml-autograder
COPY . .
RUN python3 -m venv /opt/ml-autograder/.venv \
    && /opt/ml-autograder/.venv/bin/pip install --no-cache-dir -e .
ENV PATH=/opt/ml-autograder/.venv/bin:$PATH \
    AUTOGRADER_HOST=0.0.0.0 \
    AUTOGRADER_DATA_DIR=/var/lib/ml-autograder
EXPOSE 8000
CMD ["autograder", "serve"]
