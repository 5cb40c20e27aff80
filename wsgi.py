from rightsdesk import create_app

app = create_app()
