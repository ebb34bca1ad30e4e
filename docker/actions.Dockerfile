# The action server: the official rasa-sdk image with our actions/ and the bot/ package.
FROM rasa/rasa-sdk:3.6.2
USER root
# What bot/ needs beyond rasa-sdk, at the versions of requirements.lock.
RUN pip install --no-cache-dir "SQLAlchemy==1.4.54" "alembic==1.13.3" "psycopg2-binary==2.9.13" \
    "rapidfuzz==3.14.5" "PyYAML==6.0.3"
COPY --chown=1001 bot/ /app/bot/
COPY --chown=1001 actions/ /app/actions/
COPY --chown=1001 data/routing/ /app/data/routing/
COPY --chown=1001 data/nlu/lookups.yml /app/data/nlu/lookups.yml
ENV PYTHONPATH=/app
USER 1001
CMD ["start", "--actions", "actions", "--port", "5055"]
