from migrations.env_common import run
from services.exports.models import SCHEMA, Base

run(schema=SCHEMA, metadata=Base.metadata)
