FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_SETTINGS_MODULE=crm_project.settings.production
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN mkdir -p var/media && useradd --create-home crm && chown -R crm /app/var
USER crm
EXPOSE 8000
CMD ["gunicorn", "crm_project.wsgi", "--bind", "0.0.0.0:8000"]
