#!/usr/bin/env bash
# 미닝 ((주)미닝, seed 000) as rightsdesk's operator. Run from the repository root after `make run` or
# `pip install .` into .venv/; set RIGHTSDESK_DATABASE_URL and MINNING_DATABASE_URL to your own databases
# first (see README.md).
set -euo pipefail
export PATH="$PWD/.venv/bin:$PATH"
export RIGHTSDESK_RETENTION_FILE=examples/minning/retention.toml
export RIGHTSDESK_DATAMAP_FILE=examples/minning/datamap.toml

rightsdesk db upgrade
rightsdesk datamap check examples/minning/datamap.toml
rightsdesk org setup --slug minning --name-ko "(주)미닝" --name-en "Minning Inc." --officer-name "개인정보 보호책임자" --officer-email "minning.information@gmail.com"
rightsdesk policy import --ko examples/minning/policy.ko.md --effective 2024-01-01 --source "미닝 서비스 개인정보 처리방침 (시행일 미기재)"
rightsdesk policy show
rightsdesk jobs schedule
rightsdesk jobs run --dry-run
