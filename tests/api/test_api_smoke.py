def test_create_and_read_lead(client, as_, owner_sql):
    r = client.post("/leads", json={"email": "x@y.test", "source": "web"}, headers=as_())
    assert r.status_code == 201, r.text
    lead = r.json()
    r = client.get(f"/leads/{lead['id']}", headers=as_())
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"1"'
