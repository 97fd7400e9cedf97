# Production image of the backend: waitress (deploy.py prod) as an unprivileged user.
#
#   docker build -t part-management .
#   docker run -d -p 8000:8000 -v pms-data:/app/data -v pms-uploads:/app/uploads \
#     -e SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" \
#     part-management
#
# Production refuses to start without a strong SECRET_KEY: pass it with -e, or write
# /app/data/config.json once with
#   docker run --rm -v pms-data:/app/data part-management python create_config.py --non-interactive
# Environment variables beat config.json, so change DATABASE_URL with -e, not in the file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies before the code, so a code change does not reinstall them. requirements.txt
# alone, as a user installs it (numpy for cascadio included); importing the converter here
# makes an undeclared runtime dependency fail the build instead of every STEP conversion.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && pip check \
    && python -c "import cascadio"

# A fixed uid lets host-side volume owners match the container user. The code stays
# root-owned (read-only for the server); only the data folders belong to it.
RUN groupadd --system --gid 10001 aerie \
    && useradd --system --uid 10001 --gid aerie --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin aerie \
    && mkdir -p /app/data /app/uploads /app/instance \
    && chown aerie:aerie /app/data /app/uploads /app/instance

COPY . .
# config.json lives in the data volume, where it may not be yet (the environment can hold
# every setting): a link from the default place, where no file means the defaults. Not
# CONFIG_FILE, which must name a file that exists. create_config.py and deploy.py's
# generated key write through the link.
RUN ln -s data/config.json /app/config.json

ENV FLASK_ENV=production \
    DATABASE_URL=sqlite:////app/data/parts.db \
    UPLOAD_FOLDER=/app/uploads \
    PORT=8000

VOLUME ["/app/data", "/app/uploads"]
USER 10001:10001
EXPOSE 8000

# The slim image has no curl; python's urllib fails the check on any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["python", "deploy.py", "prod", "--host", "0.0.0.0", "--port", "8000"]
