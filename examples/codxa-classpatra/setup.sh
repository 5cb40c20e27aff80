#!/usr/bin/env bash
# 엄마와 / 클래스파트라 통합회원 (코덱사 주식회사, seed 004) as rightsdesk's operator. Run from the repository root after `make run` or
# `pip install .` into .venv/; set RIGHTSDESK_DATABASE_URL and CODXA_DATABASE_URL to your own databases
# first (see README.md).
set -euo pipefail
export PATH="$PWD/.venv/bin:$PATH"
export RIGHTSDESK_RETENTION_FILE=examples/codxa-classpatra/retention.toml
export RIGHTSDESK_DATAMAP_FILE=examples/codxa-classpatra/datamap.toml

rightsdesk db upgrade
rightsdesk datamap check examples/codxa-classpatra/datamap.toml
rightsdesk org setup --slug codxa --name-ko "코덱사 주식회사" --name-en "Codxa Co., Ltd." --officer-name "정종훈" --officer-email "codxa@codxa.com" --officer-phone "02-2135-1124" --officer-title "보안 책임자" --officer-department "클래스파트라"
rightsdesk policy import --ko examples/codxa-classpatra/policy.ko.md --effective 2021-03-15 --source "통합회원 패밀리 서비스 개인정보 취급방침"
rightsdesk policy show
rightsdesk jobs schedule
rightsdesk jobs run --dry-run
