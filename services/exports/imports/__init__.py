"""Imports (restore): a takeout zip or one prompt's json export, uploaded, verified and restored by a job."""
