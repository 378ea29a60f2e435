"""Pipeline stages: plain functions over ``schemas.Article``; no broker, no database."""
