# The action server: the official rasa-sdk image with our actions/ and the bot/ package.
FROM rasa/rasa-sdk:3.6.2
COPY --chown=1001 bot/ /app/bot/
COPY --chown=1001 actions/ /app/actions/
ENV PYTHONPATH=/app
CMD ["start", "--actions", "actions", "--port", "5055"]
