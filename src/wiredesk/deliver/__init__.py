"""The ``deliver`` service: the publisher's WebSub hub at work. It verifies subscribers'
intent and pushes new and corrected stories to their callbacks (queue ``deliver``)."""
