# The maintained runtime (Python 3.12): one image for the gateway, the action server, the worker,
# the staff console, the web chat widget server and the one-shot migration. Exact versions and
# hashes from requirements-svc.lock.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements-svc.lock /tmp/requirements-svc.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements-svc.lock && rm /tmp/requirements-svc.lock
WORKDIR /app
COPY bot/ /app/bot/
COPY actions/ /app/actions/
COPY config/ /app/config/
COPY data/routing/ /app/data/routing/
COPY data/nlu/lookups.yml /app/data/nlu/lookups.yml
ENV PYTHONPATH=/app
USER 1001
ENTRYPOINT ["python", "-m", "bot.cli"]
