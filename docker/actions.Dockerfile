# The action server: the official rasa-sdk image with our actions/ and the bot/ package.
# The same image runs the worker (partner notifications, purge) and the staff console.
FROM rasa/rasa-sdk:3.6.2
USER root
# What bot/ needs beyond rasa-sdk, at the versions of requirements.lock.
RUN pip install --no-cache-dir "SQLAlchemy==1.4.54" "alembic==1.13.3" "psycopg2-binary==2.9.13" \
    "rapidfuzz==3.14.5" "PyYAML==6.0.3" "phonenumbers==9.0.43" "python-stdnum==2.2" \
    "email-validator==2.4.0" "dnspython==2.3.0" "jinja2==3.1.6" "aiohttp==3.9.5" \
    "aiohttp-session==2.12.0" "cryptography==50.0.2" "argon2-cffi==25.1.0"
COPY --chown=1001 bot/ /app/bot/
COPY --chown=1001 actions/ /app/actions/
COPY --chown=1001 config/ /app/config/
COPY --chown=1001 data/routing/ /app/data/routing/
COPY --chown=1001 data/nlu/lookups.yml /app/data/nlu/lookups.yml
ENV PYTHONPATH=/app
USER 1001
CMD ["start", "--actions", "actions", "--port", "5055", "--logging-config-file", "/app/config/logging.yml"]
