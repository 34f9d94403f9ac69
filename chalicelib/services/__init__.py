"""Use cases: one function per thing a user or a schedule does. They check permissions and call ports."""
