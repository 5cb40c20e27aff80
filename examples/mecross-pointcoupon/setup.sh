#!/usr/bin/env bash
# 포인트쿠폰 (주식회사 메크로스, seed 003) as rightsdesk's operator. Run from the repository
# root after `make run` or `pip install .` into .venv/; set RIGHTSDESK_DATABASE_URL and
# MECROSS_DATABASE_URL to your own databases first (see README.md).
set -euo pipefail
export PATH="$PWD/.venv/bin:$PATH"
export RIGHTSDESK_RETENTION_FILE=examples/mecross-pointcoupon/retention.toml
export RIGHTSDESK_DATAMAP_FILE=examples/mecross-pointcoupon/datamap.toml

rightsdesk db upgrade
rightsdesk datamap check examples/mecross-pointcoupon/datamap.toml
rightsdesk org setup --slug mecross --name-ko "주식회사 메크로스" --name-en "Mecross Co., Ltd." --officer-name "이경수" --officer-email "mkt@mecross.net" --officer-title "대표이사"
rightsdesk policy promise --kind access --days 7
rightsdesk policy promise --kind correction --days 7
rightsdesk policy promise --kind deletion --days 7
rightsdesk policy promise --kind suspension --days 7
rightsdesk policy promise --kind consent_withdrawal --days 7
rightsdesk policy import --ko examples/mecross-pointcoupon/policy.ko.md --effective 2024-03-07 --source "포인트쿠폰 모바일앱 개인정보 취급방침"
rightsdesk policy show
rightsdesk jobs schedule
rightsdesk jobs run --dry-run
