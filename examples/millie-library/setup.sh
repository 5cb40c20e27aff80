#!/usr/bin/env bash
# 밀리의 서재 (seed 002) as rightsdesk's operator. Run from the repository root after `make run` or
# `pip install .` into .venv/; set RIGHTSDESK_DATABASE_URL and MILLIE_DATABASE_URL to your own databases
# first (see README.md).
set -euo pipefail
export PATH="$PWD/.venv/bin:$PATH"
export RIGHTSDESK_RETENTION_FILE=examples/millie-library/retention.toml
export RIGHTSDESK_DATAMAP_FILE=examples/millie-library/datamap.toml

rightsdesk db upgrade
rightsdesk datamap check examples/millie-library/datamap.toml
rightsdesk org setup --slug millie --name-ko "밀리의 서재" --name-en "Millie's Library" --officer-name "제갈종원" --officer-email "steve@millie.town" --officer-title "팀장"
rightsdesk policy import --ko examples/millie-library/policy.ko.md --effective 2018-11-19 --source "밀리의 서재 홈페이지 개인정보처리방침 (공고 일자 2018년 11월 9일)"
rightsdesk policy show
rightsdesk jobs schedule
rightsdesk jobs run --dry-run
