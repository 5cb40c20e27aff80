#!/usr/bin/env bash
# 나와의 대화 (seed 001) as rightsdesk's operator. Run from the repository root after `make run` or
# `pip install .` into .venv/; set RIGHTSDESK_DATABASE_URL and TALKWITHME_DATABASE_URL to your own databases
# first (see README.md).
set -euo pipefail
export PATH="$PWD/.venv/bin:$PATH"
export RIGHTSDESK_RETENTION_FILE=examples/talk-withme/retention.toml
export RIGHTSDESK_DATAMAP_FILE=examples/talk-withme/datamap.toml

rightsdesk db upgrade
rightsdesk datamap check examples/talk-withme/datamap.toml
rightsdesk org setup --slug talk-withme --name-ko "나와의 대화" --name-en "Talk With Me" --officer-name "조영상" --officer-email "talk-withme@naver.com"
rightsdesk policy import --ko examples/talk-withme/policy.ko.md --effective 2024-01-01 --source "나와의 대화 서비스 개인정보 처리방침 (시행일 미기재)"
rightsdesk policy show
rightsdesk jobs schedule
rightsdesk jobs run --dry-run
