"""The devstack's embedded AWS.

* ``embedded.EmbeddedAws`` - moto's server on 127.0.0.1, Step Functions execution on;
* ``bridge`` - Lambda invocations (direct, Step Functions, SQS, DynamoDB streams) run the real
  handlers in this process;
* ``resources.create_resources`` - the stack of ``infra/template.yaml``, created from that file;
* ``snapshot.save_tables`` / ``snapshot.load_tables`` - table contents survive a restart;
* ``outbox.sent_emails`` - what SES sent, for the console.

Submodules are imported on use (``from devstack.aws.embedded import EmbeddedAws``) so that
importing this package does not import moto.
"""
