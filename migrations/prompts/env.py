from migrations.env_common import run
from services.prompts.models import SCHEMA, Base

run(schema=SCHEMA, metadata=Base.metadata)
