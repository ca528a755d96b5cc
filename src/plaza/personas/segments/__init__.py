"""Strategic personas (segments): a merchant's ideal customers, each with a membership rule
(``rules``) that is kept live over the customers who allow personalisation (``service``,
``subscribers``)."""
